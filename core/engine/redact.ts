/** Removes secret values from anything the engine hands out (status, outputs, errors, traces). */

/** The text that replaces a secret value. */
export const REDACTED = '***';

/** Shortest secret value the engine uses: shorter ones would match inside unrelated data. */
export const MIN_SECRET_LENGTH = 6;

/** Replaces every occurrence of the given secret values inside the strings of a JSON value. */
export class SecretRedactor {
  private readonly values: string[];

  /** Empty values are ignored: they cannot leak and would match everywhere. */
  constructor(values: Iterable<string>) {
    // Longest first, so a secret that contains another is replaced whole.
    this.values = [...new Set(values)].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
  }

  /** True when there is nothing to redact (the common case: no secrets used). */
  get empty(): boolean {
    return this.values.length === 0;
  }

  /** Redacts one string. */
  text(value: string): string {
    let out = value;
    for (const secret of this.values) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** Returns a copy of a JSON value with secrets redacted in every string, keys included. */
  value<T>(value: T): T {
    if (this.empty) return value;
    return this.walk(value) as T;
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.walk(item));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[this.text(key)] = this.walk(item);
      return out;
    }
    return value;
  }
}
