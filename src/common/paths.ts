import fs from 'node:fs';
import path from 'node:path';

/** The folder holding package.json, whether running from `src/` (tests) or `dist/src/` (built). */
export const projectRoot: string = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
})();
