import { BarChart, DonutChart, LineChart } from "@mantine/charts";
import { Alert, Group, Loader, Paper, Select, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { type Analytics, api } from "../api.ts";

type Revenue = NonNullable<Analytics["engagement"]>["revenue_by_currency"][number];

/** An amount with its currency: the symbol where the browser knows the code, else the code. */
export function formatRevenue(r: Revenue): string {
  if (r.currency === null) return `${r.amount.toLocaleString("en")} (no currency)`;
  try {
    return r.amount.toLocaleString("en", { style: "currency", currency: r.currency });
  } catch {
    return `${r.amount.toLocaleString("en")} ${r.currency}`;
  }
}

/** A `YYYY-MM-DD` day as "28 Mar 2026". */
export function formatDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y!, m! - 1, d!)).toLocaleDateString("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  });
}

/** What the size chart says about the days before the segment existed, or null. */
function historyNote(a: Analytics): string | null {
  const h = a.history;
  if (h.before === "unknown" && h.starts_on) {
    return `History starts on ${formatDay(h.starts_on)}, when the segment was created: ${h.reason ?? "its past cannot be recomputed"}.`;
  }
  if (h.before === "rule" && h.logged_since) {
    const tail = h.reason ? ` (${h.reason})` : "";
    return `Before ${formatDay(h.logged_since)}, when the segment was created, sizes are recomputed from its rule over the events${tail}.`;
  }
  return null;
}

/** Size over time, daily entries and exits, a breakdown, members' engagement, overlap. */
export function AnalyticsPanel({ segmentId }: { segmentId: string }) {
  const fields = useQuery({ queryKey: ["fields"], queryFn: api.fields });
  const segments = useQuery({ queryKey: ["segments"], queryFn: api.segments });
  const [breakdown, setBreakdown] = useState("country");
  const [overlap, setOverlap] = useState<string | null>(segmentId === "subscribed" ? "all" : "subscribed");
  const [days, setDays] = useState("30");
  const q = useQuery({
    queryKey: ["analytics", segmentId, days, breakdown, overlap],
    queryFn: () =>
      api.analytics(segmentId, { days: Number(days), breakdown, ...(overlap ? { overlap } : {}), top: 10 }),
    placeholderData: keepPreviousData,
  });
  const a = q.data;
  return (
    <Stack>
      <Group>
        <Select
          label="Period"
          w={140}
          allowDeselect={false}
          data={[
            { value: "7", label: "7 days" },
            { value: "30", label: "30 days" },
            { value: "90", label: "90 days" },
          ]}
          value={days}
          onChange={(v) => v && setDays(v)}
        />
        <Select
          label="Breakdown by"
          w={200}
          searchable
          allowDeselect={false}
          data={(fields.data ?? [])
            .filter((f) => f.type !== "date")
            .map((f) => ({ value: f.key, label: f.label || f.key }))}
          value={breakdown}
          onChange={(v) => v && setBreakdown(v)}
        />
        <Select
          label="Overlap with"
          w={240}
          searchable
          data={(segments.data ?? [])
            .filter((s) => s.id !== segmentId)
            .map((s) => ({ value: s.id, label: s.name }))}
          value={overlap}
          onChange={setOverlap}
        />
        {q.isFetching && <Loader size="xs" aria-label="Loading analytics" />}
      </Group>
      {q.isError && <Alert color="red">Could not load analytics: {String(q.error)}</Alert>}
      {!a && q.isLoading && <Loader aria-label="Loading analytics" />}
      {a && (
        <>
          <SimpleGrid cols={{ base: 2, md: 4 }}>
            <Paper withBorder p="sm">
              <Text c="dimmed" size="xs">
                Size
              </Text>
              <Text fw={700} size="xl" data-testid="analytics-size">
                {a.size.toLocaleString("en")}
              </Text>
            </Paper>
            <Paper withBorder p="sm">
              <Text c="dimmed" size="xs">
                Share of all contacts
              </Text>
              <Text fw={700} size="xl">
                {(a.share * 100).toFixed(1)}%
              </Text>
            </Paper>
            {a.engagement && (
              <>
                <Paper withBorder p="sm">
                  <Text c="dimmed" size="xs">
                    Opened in {a.engagement.window_days} days
                  </Text>
                  <Text fw={700} size="xl">
                    {a.engagement.contacts_opened.toLocaleString("en")}
                  </Text>
                </Paper>
                <Paper withBorder p="sm" data-testid="analytics-revenue">
                  <Text c="dimmed" size="xs">
                    Revenue in {a.engagement.window_days} days
                  </Text>
                  {a.engagement.revenue_by_currency.length === 0 ? (
                    <Text fw={700} size="xl">
                      none
                    </Text>
                  ) : (
                    a.engagement.revenue_by_currency.map((r) => (
                      <Text
                        key={r.currency ?? ""}
                        fw={700}
                        size={a.engagement!.revenue_by_currency.length > 1 ? "md" : "xl"}
                        title={`${r.orders} order${r.orders === 1 ? "" : "s"}`}
                      >
                        {formatRevenue(r)}
                      </Text>
                    ))
                  )}
                </Paper>
              </>
            )}
          </SimpleGrid>
          <SimpleGrid cols={{ base: 1, lg: 2 }}>
            <Paper withBorder p="sm">
              <Title order={5} mb="xs">
                Size over time
              </Title>
              <LineChart
                h={220}
                data={a.daily}
                dataKey="date"
                connectNulls={false}
                series={[{ name: "size", color: "blue.6" }]}
              />
              {historyNote(a) && (
                <Text size="xs" c="dimmed" mt="xs" data-testid="history-note">
                  {historyNote(a)}
                </Text>
              )}
            </Paper>
            <Paper withBorder p="sm">
              <Title order={5} mb="xs">
                Daily entries and exits
              </Title>
              <BarChart
                h={220}
                data={a.daily}
                dataKey="date"
                series={[
                  { name: "entered", color: "teal.6" },
                  { name: "exited", color: "red.6" },
                ]}
              />
            </Paper>
            {a.breakdown && (
              <Paper withBorder p="sm" data-testid="breakdown">
                <Title order={5} mb="xs">
                  By {a.breakdown.field}
                </Title>
                <BarChart
                  h={220}
                  data={a.breakdown.values.map((v) => ({ value: v.label ?? "(none)", count: v.count }))}
                  dataKey="value"
                  series={[{ name: "count", color: "violet.6" }]}
                />
              </Paper>
            )}
            {a.engagement && (
              <Paper withBorder p="sm">
                <Title order={5} mb="xs">
                  Members' engagement ({a.engagement.window_days} days)
                </Title>
                <BarChart
                  h={220}
                  data={[
                    { what: "opened", contacts: a.engagement.contacts_opened },
                    { what: "clicked", contacts: a.engagement.contacts_clicked },
                    { what: "ordered", contacts: a.engagement.contacts_ordered },
                  ]}
                  dataKey="what"
                  series={[{ name: "contacts", color: "orange.6" }]}
                />
              </Paper>
            )}
            {a.overlap && (
              <Paper withBorder p="sm" data-testid="overlap">
                <Title order={5} mb="xs">
                  Overlap with{" "}
                  {segments.data?.find((s) => s.id === a.overlap!.segment_id)?.name ?? a.overlap.segment_id}
                </Title>
                <Group>
                  {/* The sectors are unnamed pictures: the chart is read as one image, named here. */}
                  <div
                    role="img"
                    aria-label={`${a.overlap.both.toLocaleString("en")} of ${a.size.toLocaleString("en")} contacts also in the other segment`}
                  >
                    <DonutChart
                      size={140}
                      thickness={24}
                      aria-hidden
                      pieProps={{ rootTabIndex: -1 }}
                      data={[
                        { name: "both", value: a.overlap.both, color: "blue.6" },
                        { name: "only this", value: a.size - a.overlap.both, color: "gray.4" },
                      ]}
                    />
                  </div>
                  <Text size="sm">
                    {a.overlap.both.toLocaleString("en")} in both:{" "}
                    {(a.overlap.share_of_this * 100).toFixed(1)}% of this segment,{" "}
                    {(a.overlap.share_of_other * 100).toFixed(1)}% of the other.
                  </Text>
                </Group>
              </Paper>
            )}
          </SimpleGrid>
        </>
      )}
    </Stack>
  );
}
