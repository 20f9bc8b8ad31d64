// `npm run deps` (second half): no module reads or writes another module's tables in SQL. The entity
// imports that would do it are refused by .dependency-cruiser.cjs; this catches the same in raw SQL,
// which imports nothing. A table belongs to the folder of its entity (src/modules/<m>, src/platform/<p>);
// every string and template literal in src/ (specs and migrations aside) is read as SQL, and a table
// named after FROM, JOIN, INTO, UPDATE or TABLE must belong to the literal's own folder. A module that
// needs another's rows asks that module's repository (or composes a SQL fragment it exports).
// Plain JavaScript, like the other scripts that run before anything is compiled.
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.join(__dirname, '..');
const SKIP = [/\.spec\.ts$/, /^src\/db\/migrations\//];

function sources(dir, out = []) {
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const file = `${dir}/${entry.name}`;
    if (entry.isDirectory()) sources(file, out);
    else if (file.endsWith('.ts') && !SKIP.some((re) => re.test(file))) out.push(file);
  }
  return out;
}

/** The folder a file's tables belong to: src/modules/<m> or src/platform/<p>; else its own folder. */
const ownerOf = (file) => (/^src\/(modules|platform)\/[^/]+/.exec(file) ?? [path.dirname(file)])[0];

/** Every literal's text in a file: strings, templates (each part), with the line it starts on. */
function literals(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = [];
  const visit = (node) => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      found.push({ line, text: node.text });
    }
    node.forEachChild(visit);
  };
  visit(source);
  return found;
}

const files = sources('src');
const owners = new Map();
for (const file of files) {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  for (const match of text.matchAll(/@Entity\(\s*'([a-z_][a-z0-9_]*)'/g)) owners.set(match[1], ownerOf(file));
}

const TABLE = /\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+(?:ONLY\s+)?"?([a-z_][a-z0-9_]*)"?/gi;
const violations = [];
for (const file of files) {
  const own = ownerOf(file);
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  for (const literal of literals(file, text)) {
    for (const match of literal.text.matchAll(TABLE)) {
      const owner = owners.get(match[1]);
      if (owner && owner !== own)
        violations.push(`${file}:${literal.line} names ${match[1]}, a table of ${owner}`);
    }
  }
}

if (violations.length) {
  console.log(`\n  error table-owner: SQL naming another module's tables (ask its repository instead):`);
  for (const v of violations) console.log(`    ${v}`);
  process.exit(1);
}
console.log(`table owners: ${owners.size} tables, no SQL names another module's tables`);
