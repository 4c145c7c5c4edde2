/**
 * The key connection caps count under: one IPv4 address, or one IPv6 /64
 * (a single host or home usually gets a whole /64, so per-address caps on
 * IPv6 would otherwise cap nothing). IPv4-mapped IPv6 addresses
 * (`::ffff:1.2.3.4`) count as their IPv4 address.
 */

/** The cap key of a remote address as the kernel reported it. */
export function addressKey(address: string | undefined): string {
  if (!address) return "?";
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(":")) return address;
  const groups = expandIpv6(address.split("%")[0]);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : address;
}

/**
 * The network key of a remote address, which network budgets count under: an
 * IPv4 /24 (`a.b.c.0/24`) or an IPv6 /48 (`a:b:c::/48`), the blocks one
 * customer of a cloud or an ISP commonly gets (so 256 addresses, or 65,536
 * /64s, are one network). IPv4-mapped IPv6 addresses count as their IPv4
 * address; what does not parse is its own network.
 */
export function networkKey(address: string | undefined): string {
  const key = addressKey(address);
  const v4 = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$/.exec(key);
  if (v4) return `${v4[1]}.0/24`;
  const v6 = /^([0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}):[0-9a-f]{1,4}::\/64$/.exec(key);
  return v6 ? `${v6[1]}::/48` : key;
}

/** The eight 16-bit groups of an IPv6 address, or null when it does not parse. */
function expandIpv6(address: string): string[] | null {
  const halves = address.toLowerCase().split("::");
  if (halves.length > 2) return null;
  const part = (s: string) => (s === "" ? [] : s.split(":"));
  const head = part(halves[0]);
  const tail = halves.length === 2 ? part(halves[1]) : [];
  // An embedded IPv4 tail (a.b.c.d) is two groups.
  const last = tail.length > 0 ? tail : head;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(last[last.length - 1] ?? "");
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    last.splice(last.length - 1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => g.replace(/^0+(?=.)/, ""));
}
