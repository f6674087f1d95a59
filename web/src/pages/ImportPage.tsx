export function ImportPage() {
  return <div>ImportPage</div>;
}
