/** `GET /api/safety/ADDRESS`: a contact's safety number and its QR code. */
import { isAddress, type SafetyView } from "../../../lib/ui/mod.ts";
import type { ApiContext, ApiRoute } from "../../../lib/web/mod.ts";

export const handler: ApiRoute["handler"] = {
  async GET(ctx: ApiContext) {
    const address = ctx.params.address;
    if (!isAddress(address)) return ctx.json({ error: "Bad address" }, 400);
    try {
      const info = await ctx.client.safety(address);
      const view: SafetyView = { address, digits: info.digits, qr: ctx.qr(info.qr) };
      return ctx.json(view);
    } catch (err) {
      return ctx.json({ error: err instanceof Error ? err.message : String(err) }, 409);
    }
  },
};
