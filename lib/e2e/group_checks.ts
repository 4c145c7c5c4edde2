/**
 * What a node checks of groups without being in them: its users' key packages
 * before it hands them out, a hub submission's signed member list, and the
 * clear header of a group message. The node loads this by `import()` on first
 * use (lib/node/group_service.ts), so a relay, or a node whose users publish
 * nothing, loads no MLS code; and this loads neither the rest of lib/e2e (the
 * ratchet, file crypto) nor HPKE, X-Wing or ML-KEM (issue 13). Everything here
 * is also exported by lib/e2e/mod.ts.
 *
 * @module
 */
export {
  readGroupKeyPackage,
  type ReadGroupKeyPackageOptions,
  type VerifiedGroupKeyPackage,
} from "./group_key_package.ts";
export { type GroupHubInfo, type HubMember, readGroupHubInfo } from "./group_hub_info.ts";
export { type GroupMessageHeader, peekGroupMessage } from "./group_message.ts";
