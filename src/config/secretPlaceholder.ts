/** What stands where a secret's value would be when it cannot or must not be shown (the offline plan, redacted output). */
export const SECRET_PLACEHOLDER = "[secret]";

/**
 * What an undecrypted `secure:` value reads as offline. Long enough for every
 * length rule a real secret must meet (a webhook secret's 16 characters), so
 * the offline plan judges the stack, not the placeholder; never parsed as the
 * real thing (a kubeconfig, say).
 */
export const UNDECRYPTED = `${SECRET_PLACEHOLDER}: not decrypted offline`;
