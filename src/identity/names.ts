/**
 * Name rules of users and roles (api-contract §4.3 POST, §4.13). Both return
 * BR's message for the first failing check, or null. Lengths are UTF-8 bytes
 * (BR measures Rust `str::len`), which only matters for non-ASCII input that
 * the character check rejects anyway.
 */

const REST = /^[A-Za-z0-9_.-]*$/;

function checkName(name: string, noun: string): string | null {
  const length = Buffer.byteLength(name, 'utf8');
  if (length < 3 || length > 50) return `${noun} must be between 3 and 50 characters`;
  if (!/^[A-Za-z]/.test(name)) return `${noun} must start with a letter`;
  if (!REST.test(name.slice(1))) {
    return `${noun} may only contain letters, digits, underscores, dots, and hyphens`;
  }
  return null;
}

/** Applies to the API and to the CLI alike. */
export const checkUsernameRule = (username: string): string | null => checkName(username, 'Username');

export const checkRoleNameRule = (name: string): string | null => checkName(name, 'Role name');
