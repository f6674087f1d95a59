import { Alert, Button, Group, Paper, Select, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { type CreatedReceiver, PROVIDER_INFO, PROVIDERS, type Provider, sourcesApi } from "../sources-api.ts";
import { SourceCopyField } from "./SourceCopyField.tsx";

/** What to paste into the provider once a receiver exists, and the secrets shown this once. */
function CreatedPanel({ r, onDone }: { r: CreatedReceiver; onDone: () => void }) {
  const info = PROVIDER_INFO[r.provider];
  const withCredentials = r.secrets?.url_with_credentials;
  return (
    <Alert color="green" title={`Receiver “${r.name}” created`} data-testid="new-receiver">
      <Stack gap="xs">
        <Text size="sm">{info.setup}</Text>
        {withCredentials ? (
          <>
            <SourceCopyField
              label="URL with credentials"
              value={withCredentials}
              description="Paste this one into Postmark: it carries the credentials Slice made, shown only this once."
              testId="new-receiver-url-credentials"
            />
            {Object.entries(r.secrets ?? {})
              .filter(([k]) => k !== "url_with_credentials")
              .map(([k, v]) => (
                <SourceCopyField
                  key={k}
                  label={k === "username" ? "User name" : k === "password" ? "Password" : k}
                  value={v}
                />
              ))}
          </>
        ) : (
          <SourceCopyField
            label="URL"
            value={r.url}
            description={`Paste this into ${info.label}.`}
            testId="new-receiver-url"
          />
        )}
        <Group>
          <Button size="xs" variant="default" onClick={onDone}>
            Done
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}

/** A new receiver: the provider, a name, and the settings that provider needs to be verified. */
export function SourceReceiverForm() {
  const qc = useQueryClient();
  const [provider, setProvider] = useState<Provider>("sendgrid");
  const [name, setName] = useState("");
  const [config, setConfig] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<CreatedReceiver | null>(null);
  const info = PROVIDER_INFO[provider];
  const create = useMutation({
    mutationFn: () => {
      const c: Record<string, string> = {};
      for (const i of info.inputs) {
        const v = (config[i.key] ?? "").trim();
        if (v) c[i.key] = v;
      }
      return sourcesApi.createReceiver({
        provider,
        ...(name.trim() ? { name: name.trim() } : {}),
        config: c,
      });
    },
    onSuccess: (r) => {
      setCreated(r);
      setName("");
      setConfig({});
      void qc.invalidateQueries({ queryKey: ["receivers"] });
      void qc.invalidateQueries({ queryKey: ["sources"] });
    },
  });
  const missing = info.inputs.filter((i) => i.required && !(config[i.key] ?? "").trim());
  return (
    <Paper withBorder p="md">
      <Title order={4} mb="xs">
        New receiver
      </Title>
      <Stack>
        <Group align="flex-start">
          <Select
            label="Provider"
            w={260}
            allowDeselect={false}
            data={PROVIDERS.map((p) => ({ value: p, label: PROVIDER_INFO[p].label }))}
            value={provider}
            onChange={(v) => {
              if (v) setProvider(v as Provider);
              create.reset();
            }}
          />
          <TextInput
            label="Receiver name"
            placeholder={`e.g. ${PROVIDER_INFO[provider].label} production`}
            w={320}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
        </Group>
        {info.inputs.map((i) => (
          <TextInput
            key={`${provider}:${i.key}`}
            label={i.label}
            description={i.help}
            placeholder={i.placeholder}
            required={i.required}
            maw={720}
            value={config[i.key] ?? ""}
            onChange={(e) => {
              const v = e.currentTarget.value;
              setConfig((c) => ({ ...c, [i.key]: v }));
            }}
          />
        ))}
        {provider === "postmark" && (
          <Text size="sm" c="dimmed">
            Postmark signs nothing: Slice makes a user name and password and gives you a URL that carries them
            (HTTP Basic), shown once after creating.
          </Text>
        )}
        <Group>
          <Button onClick={() => create.mutate()} loading={create.isPending} disabled={missing.length > 0}>
            Create receiver
          </Button>
          {missing.length > 0 && (
            <Text size="sm" c="dimmed">
              Needs: {missing.map((i) => i.label).join(", ")}
            </Text>
          )}
        </Group>
        {create.error && (
          <Alert color="red" role="alert" title="The receiver was not created">
            {create.error.message}
          </Alert>
        )}
        {created && <CreatedPanel r={created} onDone={() => setCreated(null)} />}
      </Stack>
    </Paper>
  );
}
