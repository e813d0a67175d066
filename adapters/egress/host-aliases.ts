/** Fixed host → address mappings in front of a resolver, like /etc/hosts (local development, tests). */
import { systemResolver, type HostResolver } from './policy.ts';

/** Resolves configured aliases to fixed addresses, everything else through `fallback`. */
export function aliasResolver(
  aliases: ReadonlyMap<string, string>,
  fallback: HostResolver = systemResolver,
): HostResolver {
  return {
    resolve: async (hostname) => {
      const address = aliases.get(hostname.toLowerCase());
      if (address) return [{ address, family: address.includes(':') ? 6 : 4 }];
      return fallback.resolve(hostname);
    },
  };
}

/** Parses `HOST=ADDRESS` entries; returns the map and a message per malformed entry. */
export function parseHostAliases(entries: readonly string[]): {
  aliases: Map<string, string>;
  errors: string[];
} {
  const aliases = new Map<string, string>();
  const errors: string[] = [];
  for (const entry of entries) {
    const [host, address, ...rest] = entry.split('=');
    if (!host || !address || rest.length)
      errors.push(`host alias ${JSON.stringify(entry)}: use HOST=ADDRESS`);
    else aliases.set(host.toLowerCase(), address);
  }
  return { aliases, errors };
}
