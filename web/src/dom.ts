/** The element with this id; a missing one is a bug in index.html, so it throws at start-up. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element as T;
}

type Child = Node | string | undefined | false;

/** A new element: `el("td", { className: "num" }, "€12.50")`. Text is always set as text, never as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Omit<HTMLElementTagNameMap[K], "dataset">> & { dataset?: Record<string, string> } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(element, rest);
  if (dataset) Object.assign(element.dataset, dataset);
  for (const child of children) if (child !== undefined && child !== false) element.append(child);
  return element;
}

/** "01JD3X…QW" with the full id as a tooltip and for screen readers' copy. */
export function shortId(id: string): HTMLElement {
  return el(
    "code",
    { title: id, className: "id" },
    id.length > 12 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id,
  );
}

export function setError(target: HTMLElement, message: string | undefined): void {
  target.textContent = message ?? "";
}
