import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DomainError, ErrorCode } from '../../common/errors';

const VERSION = 'v1';

/**
 * Connector secrets at rest: AES-256-GCM under NERVE_SECRET_KEY with a fresh 96-bit nonce per seal,
 * the connector id as additional data (a ciphertext copied onto another connector does not open).
 * Stored as `v1.<nonce>.<tag>.<ciphertext>`, base64url.
 */
export class SecretBox {
  private readonly key: Buffer | undefined;

  /** `key`: 32 bytes, base64 (validated by config); undefined: secrets cannot be stored. */
  constructor(key: string | undefined) {
    this.key = key ? Buffer.from(key, 'base64') : undefined;
  }

  seal(secrets: Record<string, string>, connectorId: string): string {
    const key = this.requireKey();
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(connectorId));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
    return [VERSION, nonce, cipher.getAuthTag(), ciphertext]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  open(sealed: string, connectorId: string): Record<string, string> {
    const key = this.requireKey();
    const [version, nonce, tag, ciphertext] = sealed.split('.');
    if (version !== VERSION || !nonce || !tag || ciphertext === undefined) {
      throw new DomainError(ErrorCode.INTERNAL_SERVER_ERROR, 'connector secrets are not in a known format');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
      decipher.setAAD(Buffer.from(connectorId));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as Record<string, string>;
    } catch {
      // Wrong key (rotated NERVE_SECRET_KEY) or a tampered row: say which without any of the bytes.
      throw new DomainError(
        ErrorCode.CONFLICT,
        'connector secrets cannot be decrypted with the current NERVE_SECRET_KEY; set the secrets again',
      );
    }
  }

  private requireKey(): Buffer {
    if (!this.key) {
      throw new DomainError(
        ErrorCode.CONFLICT,
        'NERVE_SECRET_KEY is not set: the hub cannot store or read connector credentials',
      );
    }
    return this.key;
  }
}

/**
 * The embedded hub's key when NERVE_SECRET_KEY is unset: made once and kept beside the embedded
 * database (mode 0600), so a newcomer's `npm start` can store connector credentials. A hub on an
 * external PostgreSQL never does this: its replicas must share one key, which only the operator can give.
 */
export function embeddedSecretKey(dataDir: string): string {
  const file = path.join(dataDir, 'secret.key');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const key = randomBytes(32).toString('base64');
    writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
    return key;
  }
}
