/** @jsxImportSource preact */
/**
 * Fresh-style islands: the server renders a component inside a marker that
 * names it and carries its (serialisable) props; the browser entry hydrates
 * each marker with the same component.
 */
import type { ComponentType, JSX } from "preact";

/** Props of {@linkcode Island}. */
export interface IslandProps<P> {
  name: string;
  component: ComponentType<P>;
  props: P;
}

/** Renders `component` with `props` inside a hydration marker. */
export function Island<P extends object>({ name, component, props }: IslandProps<P>): JSX.Element {
  const C = component as ComponentType<object>;
  return (
    <div class="island" data-island={name} data-props={JSON.stringify(props)}>
      <C {...props} />
    </div>
  );
}
