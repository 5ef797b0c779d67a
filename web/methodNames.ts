/**
 * The methods' names for people, as the server's registry gives them in /api/info; until it has answered (or
 * for a method it does not know) a method is shown by its own name.
 */
const labels = new Map<string, string>();

export function setMethodLabels(methods: readonly { name: string; label: string }[]): void {
  for (const { name, label } of methods) labels.set(name, label);
}

export function methodLabel(method: string): string {
  return labels.get(method) ?? method;
}
