/**
 * `POST /api/upload/:address?name=N&type=T`: a file picked or dropped in the
 * browser, streamed (never held whole, read as fast as the disk takes it)
 * into the client's folder and offered to `address`. The connection refuses
 * a body over `[UI] max_upload_bytes` before reading it.
 */
import { isAddress, type UiCommandResult } from "../../../lib/ui/mod.ts";
import type { ApiContext, ApiRoute } from "../../../lib/web/mod.ts";

export const handler: ApiRoute["handler"] = {
  async POST(ctx: ApiContext) {
    const address = ctx.params.address;
    const name = ctx.url.searchParams.get("name") ?? "";
    const type = ctx.url.searchParams.get("type") || "application/octet-stream";
    const contentType = ctx.request.headers.get("content-type") ?? "";
    if (!isAddress(address) || name.length > 1024 || type.length > 200) {
      return ctx.json({ kind: "error", error: "Cannot send file: bad address or name" }, 400);
    }
    if (!contentType.startsWith("application/octet-stream") || !ctx.request.body) {
      return ctx.json(
        { kind: "error", error: "Cannot send file: send application/octet-stream" },
        400,
      );
    }
    try {
      const transfer = await ctx.client.uploadFile(address, { name, type, body: ctx.request.body });
      return ctx.json({ kind: "file", transfer } satisfies UiCommandResult);
    } catch (err) {
      ctx.log.info("upload refused", {});
      const error = err instanceof Error ? err.message : String(err);
      return ctx.json({ kind: "error", error } satisfies UiCommandResult, 422);
    }
  },
};
