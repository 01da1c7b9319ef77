/**
 * Bind addresses are only proven at listen time. This turns the resulting
 * system error into a ConfigError naming the variable, so "port in use"
 * reads like any other configuration mistake instead of a stack trace.
 */
import { ConfigError, errorCode, reason } from './errors.js';
import { formatBindAddress, type BindAddress } from './parse.js';
import { label } from './variables.js';

export type BindVariable = 'ROWGATE_PROXY_BIND_ADDR' | 'ROWGATE_ADMIN_BIND_ADDR';

export function bindError(name: BindVariable, addr: BindAddress | string, err: unknown): ConfigError {
  const where = typeof addr === 'string' ? addr : formatBindAddress(addr);
  const port = typeof addr === 'string' ? Number(/:(\d+)$/.exec(addr)?.[1]) : addr.port;
  let what: string;
  switch (errorCode(err)) {
    case 'EADDRINUSE':
      what = `${where} is already in use`;
      break;
    case 'EACCES':
      what =
        port > 0 && port < 1024
          ? `permission denied for ${where} (ports below 1024 need extra privileges)`
          : `permission denied for ${where}`;
      break;
    case 'EADDRNOTAVAIL':
      what = `${where} is not an address of this machine`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      what = `cannot resolve the host of ${where}`;
      break;
    default:
      what = `cannot listen on ${where}: ${reason(err)}`;
  }
  return new ConfigError(`${label(name)}: ${what}`, name, { cause: err });
}
