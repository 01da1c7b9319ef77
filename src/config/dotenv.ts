/**
 * `.env` support, kept apart from loadConfig so that loadConfig stays a
 * function of the `env` object it is given.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { ConfigError, errorCode, reason } from './errors.js';

/**
 * Loads `<cwd>/.env` into `env` without overriding variables already set
 * (even to the empty string), like dotenv's default. A missing file is
 * fine. Returns the names it set. Uses dotenv.parse rather than
 * dotenv.config so nothing is logged and `env` can be a plain test object.
 */
export function loadDotEnv(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string[] {
  const file = join(cwd, '.env');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw new ConfigError(`cannot read ${file}: ${reason(err)}`, undefined, { cause: err });
  }
  const applied: string[] = [];
  for (const [name, value] of Object.entries(dotenv.parse(text))) {
    if (Object.prototype.hasOwnProperty.call(env, name)) continue;
    env[name] = value;
    applied.push(name);
  }
  return applied;
}
