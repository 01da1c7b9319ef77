import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeConfigVariables } from '../../src/config/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const ciScript = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');

describe('README stays true', () => {
  it('documents every configuration variable with its alias and default', () => {
    const rows = readme.split('\n').filter((line) => line.startsWith('| `ROWGATE_'));
    const documented = rows.map((row) => /^\| `([A-Z_]+)`/.exec(row)?.[1]);
    const variables = describeConfigVariables();
    expect(documented).toEqual(variables.map((v) => v.name));
    for (const [index, variable] of variables.entries()) {
      const row = rows[index] ?? '';
      expect(row).toContain(variable.alias ? `\`${variable.alias}\`` : '| — |');
    }
  });

  it('gives the test command that CI runs', () => {
    expect(readme).toContain('npm ci && npm test');
    expect(ciScript).toMatch(/^npm ci\b.*$/m);
    expect(ciScript).toMatch(/^npm test$/m);
  });
});
