import assert from "node:assert/strict";
import { addressKey, networkKey } from "./address_key.ts";

Deno.test("addressKey() keeps IPv4 addresses and unwraps IPv4-mapped IPv6", () => {
  assert.equal(addressKey("127.0.0.2"), "127.0.0.2");
  assert.equal(addressKey("::ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(addressKey("::FFFF:10.1.2.3"), "10.1.2.3");
  assert.equal(addressKey(undefined), "?");
});

Deno.test("addressKey() counts an IPv6 /64 as one address", () => {
  const a = addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
  assert.equal(a, "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:0db8:0001:0002::1"), a);
  assert.equal(addressKey("2001:db8:1:2::ffff%eth0"), a);
  assert.notEqual(addressKey("2001:db8:1:3::1"), a);
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("64:ff9b::192.0.2.33"), "64:ff9b:0:0::/64");
});

Deno.test("addressKey() leaves what does not parse as it is", () => {
  assert.equal(addressKey("1:2:3"), "1:2:3");
  assert.equal(addressKey("1::2::3"), "1::2::3");
  assert.equal(addressKey("gggg::1"), "gggg::1");
});

Deno.test("networkKey() counts an IPv4 /24 and an IPv6 /48 as one network", () => {
  assert.equal(networkKey("127.5.5.1"), "127.5.5.0/24");
  assert.equal(networkKey("127.5.5.254"), "127.5.5.0/24");
  assert.equal(networkKey("::ffff:127.5.5.9"), "127.5.5.0/24");
  assert.notEqual(networkKey("127.5.6.1"), "127.5.5.0/24");
  assert.equal(networkKey("2001:db8:1:2::1"), "2001:db8:1::/48");
  assert.equal(networkKey("2001:db8:1:ffff:1:2:3:4"), "2001:db8:1::/48");
  assert.notEqual(networkKey("2001:db8:2::1"), "2001:db8:1::/48");
  assert.equal(networkKey("::1"), "0:0:0::/48");
  assert.equal(networkKey(undefined), "?");
  assert.equal(networkKey("1::2::3"), "1::2::3");
});
