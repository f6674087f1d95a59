import { Skeleton, Stack } from "@mantine/core";

/** Grey bars where a list's rows will be, while it loads; announced by its label. */
export function TableSkeleton({ label, rows = 5 }: { label: string; rows?: number }) {
  return (
    <Stack gap="xs" role="status" aria-label={label} aria-busy data-testid="loading-skeleton">
      <Skeleton height={28} width="100%" />
      {Array.from({ length: rows }, (_, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: placeholders without identity
        <Skeleton key={i} height={22} width={`${92 - (i % 3) * 9}%`} />
      ))}
    </Stack>
  );
}
