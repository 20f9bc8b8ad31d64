import fs from 'node:fs';
import { CsvError, parse } from 'csv-parse';
import { DomainError, ErrorCode } from '../../common/errors';

export interface CsvRecord {
  cells: string[];
  /** 1-based line of the file where the record ends; 0 unless asked for (tracking lines costs time). */
  line: number;
}

/** A CSV problem, reported against the input field that named the file. */
export function csvInputError(field: string, message: string, line?: number, column?: string): DomainError {
  const where = [
    line !== undefined ? `line ${line}` : undefined,
    column !== undefined ? `column "${column}"` : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  return new DomainError(ErrorCode.BAD_USER_INPUT, `${field}: ${where ? `${where}: ` : ''}${message}`, {
    field,
    ...(line !== undefined ? { line } : {}),
    ...(column !== undefined ? { column } : {}),
  });
}

/**
 * Streams the records of a CSV file (header included) without holding the file in memory. Malformed
 * CSV (unbalanced quotes, ragged rows, a record over 16 MiB) becomes BAD_USER_INPUT on `field`.
 */
export async function* readCsv(
  path: string,
  field: string,
  options: { lines?: boolean } = {},
): AsyncGenerator<CsvRecord> {
  const lines = options.lines ?? false;
  const input = fs.createReadStream(path);
  const parser = parse({ bom: true, skip_empty_lines: true, info: lines, max_record_size: 16 * 1024 * 1024 });
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);
  try {
    if (lines) {
      for await (const { record, info } of parser as AsyncIterable<{
        record: string[];
        info: { lines: number };
      }>) {
        yield { cells: record, line: info.lines };
      }
    } else {
      for await (const record of parser as AsyncIterable<string[]>) yield { cells: record, line: 0 };
    }
  } catch (error) {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines;
      throw csvInputError(field, `not valid CSV: ${error.message}`, line);
    }
    throw error;
  } finally {
    input.destroy();
    parser.destroy();
  }
}
