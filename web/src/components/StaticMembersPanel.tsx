import { Alert, Autocomplete, Button, FileInput, Group, Stack, Textarea, Title } from "@mantine/core";
import { DateTimePicker } from "@mantine/dates";
import { useDebouncedValue } from "@mantine/hooks";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../api.ts";

const emailsOf = (text: string) => [
  ...new Set(
    text
      .split(/[\s,;]+/)
      .map((e) => e.trim())
      .filter((e) => e.includes("@")),
  ),
];

/** Add or remove contacts of a static segment: pasted emails or a CSV, with an optional expiry. */
export function StaticMembersPanel({ segmentId }: { segmentId: string }) {
  const qc = useQueryClient();
  const [text, setText] = useState("");
  const [expires, setExpires] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [find, setFind] = useState("");
  const [findQ] = useDebouncedValue(find.trim(), 150);
  // Picking a contact: the first matches of the email typed so far (through the preview).
  const found = useQuery({
    queryKey: ["pick-contact", findQ],
    queryFn: () => api.preview({ type: "field", field: "email", op: "contains", value: findQ }),
    enabled: findQ.length >= 2,
  });
  const run = async (what: "add" | "remove") => {
    const emails = emailsOf(text);
    if (emails.length === 0) return setMsg({ ok: false, text: "No email address found" });
    setBusy(true);
    setMsg(null);
    try {
      const refs = emails.map((email) => ({ email }));
      if (what === "add")
        await api.addMembers(segmentId, refs, expires ? new Date(expires).toISOString() : undefined);
      else await api.removeMembers(segmentId, refs);
      setMsg({ ok: true, text: `${what === "add" ? "Added" : "Removed"} ${emails.length} contact(s)` });
      setText("");
      void qc.invalidateQueries({ queryKey: ["members", segmentId] });
      void qc.invalidateQueries({ queryKey: ["segment", segmentId] });
      void qc.invalidateQueries({ queryKey: ["segments"] });
    } catch (e) {
      setMsg({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack maw={640}>
      <Title order={4}>Add or remove contacts</Title>
      <Autocomplete
        label="Pick a contact"
        placeholder="Type part of an email"
        w={360}
        value={find}
        onChange={setFind}
        data={(found.data?.sample ?? []).flatMap((c) => (c.email ? [c.email] : []))}
        onOptionSubmit={(email) => {
          setText((t) => `${t}${t ? "\n" : ""}${email}`);
          setTimeout(() => setFind(""), 0);
        }}
      />
      <Textarea
        label="Emails (one per line, or separated by commas)"
        autosize
        minRows={4}
        value={text}
        onChange={(e) => setText(e.currentTarget.value)}
      />
      <FileInput
        label="Or upload a CSV (every email address in it is taken)"
        accept=".csv,text/csv"
        clearable
        onChange={async (f) => {
          if (!f) return;
          const found = emailsOf(await f.text()).join("\n");
          setText((t) => `${t}${t ? "\n" : ""}${found}`);
        }}
      />
      <DateTimePicker
        label="Keep in the segment until (optional)"
        clearable
        value={expires}
        onChange={(v) => setExpires(v)}
        w={300}
      />
      <Group>
        <Button loading={busy} onClick={() => run("add")}>
          Add contacts
        </Button>
        <Button loading={busy} color="red" variant="light" onClick={() => run("remove")}>
          Remove contacts
        </Button>
      </Group>
      {msg && (
        <Alert color={msg.ok ? "green" : "red"} role="status">
          {msg.text}
        </Alert>
      )}
    </Stack>
  );
}
