/** The page's store, from inside an island. */
import { useContext } from "preact/hooks";
import { StoreContext, type UiStore } from "./ui_store.ts";

/** Returns the page's {@linkcode UiStore}; throws outside a store provider. */
export function useStore(): UiStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error("Cannot find the page's store: render islands inside StoreContext");
  return store;
}
