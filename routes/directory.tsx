/** @jsxImportSource preact */
/** `/directory`: users of every reachable node. */
import DirectoryList from "../islands/DirectoryList.tsx";
import { Island } from "../lib/ui/mod.ts";
import type { PageData } from "../lib/web/mod.ts";

export function load(): Promise<PageData<null>> {
  return Promise.resolve({ title: "Directory", data: null });
}

export default function DirectoryPage() {
  return <Island name="DirectoryList" component={DirectoryList} props={{}} />;
}
