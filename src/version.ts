/** Rowgate's own version, read once from package.json (same path from src/ and dist/). */
import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const ROWGATE_VERSION: string = packageJson.version;
