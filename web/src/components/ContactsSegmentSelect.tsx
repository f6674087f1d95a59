import { Select } from "@mantine/core";
import type { Segment } from "../api.ts";

/** The option of no segment; segment ids never take this form. */
const ALL = "*";

/** Which contacts the list shows: every one ("All contacts", `null`) or one segment's members. */
export function ContactsSegmentSelect({
  segments,
  value,
  onChange,
}: {
  segments: Segment[];
  value: string | null;
  onChange: (segment: string | null) => void;
}) {
  const data = [
    { value: ALL, label: "All contacts" },
    ...segments.map((s) => ({ value: s.id, label: s.name })),
  ];
  // A segment not listed (yet, or deleted) still shows by its id rather than as "All contacts".
  if (value !== null && !segments.some((s) => s.id === value)) data.push({ value, label: value });
  return (
    <Select
      label="Segment"
      w={320}
      searchable
      allowDeselect={false}
      data={data}
      value={value ?? ALL}
      onChange={(v) => onChange(v === null || v === ALL ? null : v)}
    />
  );
}
