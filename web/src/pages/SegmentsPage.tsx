export function SegmentsPage() {
  return <div>SegmentsPage</div>;
}
