export function SegmentEditorPage() {
  return <div>SegmentEditorPage</div>;
}
