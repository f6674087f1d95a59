export function SegmentPage() {
  return <div>SegmentPage</div>;
}
