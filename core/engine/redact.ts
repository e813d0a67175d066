/**
 * Removes secret values from anything the engine hands out (status, outputs, errors, events), in
 * every encoding an upstream may echo them back in: raw, percent-encoded (URI component and form
 * style, either hex case), JSON-escaped (also the ASCII-only `\uXXXX` style), HTML-escaped,
 * base64 and base64url (also embedded in a longer base64 text, as in `Basic` credentials),
 * trimmed (as in a header), and with whitespace collapsed or removed. Text is redacted before it
 * is ever cut short, and a cut never keeps the beginning of a secret.
 */

/** The text that replaces a secret value. */
export const REDACTED = '***';

/** Shortest secret value the engine uses: shorter ones would match inside unrelated data. */
export const MIN_SECRET_LENGTH = 6;

/** A secret's beginning this long or longer is not left at the end of shortened text. */
const MIN_PREFIX_AT_CUT = 3;

/** Replaces every occurrence of the given secret values, in every echoed encoding, in JSON values. */
export class SecretRedactor {
  /** Every spelling of every secret, longest first, so a spelling that contains another goes whole. */
  private readonly spellings: string[];

  /** Empty values are ignored: they cannot leak and would match everywhere. */
  constructor(values: Iterable<string>) {
    const spellings = new Set<string>();
    for (const value of new Set(values)) {
      if (value.length === 0) continue;
      for (const spelling of spellingsOf(value)) {
        // A short spelling (whitespace collapsed to almost nothing) would match unrelated data.
        if (spelling.length >= Math.min(MIN_SECRET_LENGTH, value.length)) spellings.add(spelling);
      }
    }
    this.spellings = [...spellings].sort((a, b) => b.length - a.length);
  }

  /** True when there is nothing to redact (the common case: no secrets used). */
  get empty(): boolean {
    return this.spellings.length === 0;
  }

  /** Length of the longest spelling: text this much past a cut decides what the cut keeps. */
  get longest(): number {
    return this.spellings[0]?.length ?? 0;
  }

  /** Redacts one string. */
  text(value: string): string {
    let out = value;
    for (const spelling of this.spellings)
      if (out.includes(spelling)) out = out.split(spelling).join(REDACTED);
    return out;
  }

  /**
   * Redacts `value`, then keeps at most `maxChars` characters of it. Redaction comes first, so a
   * secret that straddles the cut is gone whole; a tail that is the beginning of a secret (echoed
   * cut short by the upstream itself) is replaced too. `alreadyCut` says the value is itself the
   * start of a longer text, so its end is a cut even when it fits.
   */
  shortened(value: string, maxChars: number, alreadyCut = false): string {
    const redacted = this.text(value);
    if (redacted.length <= maxChars && !alreadyCut) return redacted;
    let kept = redacted.slice(0, maxChars);
    for (const spelling of this.spellings) {
      for (let k = Math.min(spelling.length - 1, kept.length); k >= MIN_PREFIX_AT_CUT; k--) {
        if (kept.endsWith(spelling.slice(0, k))) {
          kept = kept.slice(0, kept.length - k) + REDACTED;
          break;
        }
      }
    }
    return `${kept}…`;
  }

  /**
   * Returns a copy of a JSON value with secrets redacted in every string, keys included. Walks
   * with an explicit stack: no nesting depth can overflow the call stack.
   */
  value<T>(value: T): T {
    if (this.empty) return value;
    if (typeof value === 'string') return this.text(value) as T;
    if (value === null || typeof value !== 'object') return value;
    const root = emptyLike(value);
    const stack: Array<{ from: object; to: Record<string, unknown> | unknown[] }> = [
      { from: value, to: root },
    ];
    for (let top = stack.pop(); top; top = stack.pop()) {
      const { from, to } = top;
      if (Array.isArray(from)) {
        const out = to as unknown[];
        for (const item of from as unknown[]) out.push(this.copyScalarOrQueue(item, stack));
      } else {
        const out = to as Record<string, unknown>;
        for (const [key, item] of Object.entries(from)) {
          const copied = this.copyScalarOrQueue(item, stack);
          const name = this.text(key);
          // JSON.parse makes `__proto__` an own key; plain assignment would set the prototype instead.
          if (name === '__proto__')
            Object.defineProperty(out, name, {
              value: copied,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          else out[name] = copied;
        }
      }
    }
    return root as T;
  }

  /** A redacted scalar, or an empty container whose filling is queued on the stack. */
  private copyScalarOrQueue(
    item: unknown,
    stack: Array<{ from: object; to: Record<string, unknown> | unknown[] }>,
  ): unknown {
    if (typeof item === 'string') return this.text(item);
    if (item === null || typeof item !== 'object') return item;
    const copy = emptyLike(item);
    stack.push({ from: item, to: copy });
    return copy;
  }
}

function emptyLike(value: object): Record<string, unknown> | unknown[] {
  return Array.isArray(value) ? [] : {};
}

/** Every way an upstream may echo `secret`. */
export function spellingsOf(secret: string): Set<string> {
  const out = new Set<string>();
  // Header values lose their leading and trailing whitespace on the wire.
  const forms = new Set([
    secret,
    secret.trim(),
    secret.replace(/\s+/g, ' ').trim(),
    secret.replace(/\s+/g, ''),
  ]);
  for (const form of forms) {
    out.add(form);
    for (const encoded of [encodeURIComponent(form), formEncode(form), encodeURI(form)]) {
      out.add(encoded);
      out.add(encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
    }
    out.add(JSON.stringify(form).slice(1, -1));
    out.add(asciiJson(form));
    out.add(htmlEscape(form));
  }
  for (const core of base64Cores(Buffer.from(secret, 'utf8'))) {
    out.add(core);
    out.add(encodeURIComponent(core));
    out.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  out.delete('');
  return out;
}

/** `application/x-www-form-urlencoded` as URLSearchParams writes it (space as `+`). */
function formEncode(text: string): string {
  return new URLSearchParams([['', text]]).toString().slice(1);
}

/** JSON string content with every non-ASCII character and `/` escaped (Python, PHP style). */
function asciiJson(text: string): string {
  return JSON.stringify(text)
    .slice(1, -1)
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/\//g, '\\/');
}

function htmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * The base64 characters that depend on the secret's bytes alone, for each of the three alignments
 * the secret can have inside longer encoded data (`user:secret` in Basic credentials), plus the
 * whole standalone encoding with its padding.
 */
function base64Cores(bytes: Buffer): string[] {
  const out = [bytes.toString('base64')];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const start = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    out.push(encoded.slice(start, end));
  }
  return out;
}
