import { Stack, Tabs } from "@mantine/core";
import { useState } from "react";
import { useSearchParams } from "react-router";
import { PageHeader } from "../components/PageHeader.tsx";
import { SourceKeysPanel } from "../components/SourceKeysPanel.tsx";
import { SourceReceiversPanel } from "../components/SourceReceiversPanel.tsx";
import { SourceSegmentPanel } from "../components/SourceSegmentPanel.tsx";

const TABS = ["keys", "segment", "receivers"] as const;
type Tab = (typeof TABS)[number];

/** Every way data comes in: API keys, the Segment-compatible SDK endpoint, sending platforms' webhooks. */
export function SourcesPage() {
  const [params, setParams] = useSearchParams();
  const raw = params.get("tab");
  const tab: Tab = TABS.includes(raw as Tab) ? (raw as Tab) : "keys";
  // The secret of an ingest key made on this page, so the SDK snippets can carry it; kept
  // only while the page is open, as the server shows it only once.
  const [ingestKey, setIngestKey] = useState<string | undefined>();
  const show = (t: Tab) => setParams(t === "keys" ? {} : { tab: t }, { replace: true });
  return (
    <Stack>
      <PageHeader title="Sources" description="How contacts and events come into this workspace." />
      <Tabs value={tab} onChange={(v) => v && show(v as Tab)} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="keys">API keys</Tabs.Tab>
          <Tabs.Tab value="segment">Segment / RudderStack</Tabs.Tab>
          <Tabs.Tab value="receivers">Receivers</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="keys" pt="md">
          <SourceKeysPanel onCreated={(k) => k.role === "ingest" && setIngestKey(k.key)} />
        </Tabs.Panel>
        <Tabs.Panel value="segment" pt="md">
          <SourceSegmentPanel ingestKey={ingestKey} onShowKeys={() => show("keys")} />
        </Tabs.Panel>
        <Tabs.Panel value="receivers" pt="md">
          <SourceReceiversPanel />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
