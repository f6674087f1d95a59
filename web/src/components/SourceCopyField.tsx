import { ActionIcon, Button, Code, CopyButton, Group, Stack, TextInput, Tooltip } from "@mantine/core";

/** A value to paste elsewhere (a URL, a secret), read-only, with a copy button. */
export function SourceCopyField({
  label,
  value,
  description,
  testId,
}: {
  label: string;
  value: string;
  description?: string;
  testId?: string;
}) {
  return (
    <Group align="flex-end" gap="xs" wrap="nowrap">
      <TextInput
        label={label}
        description={description}
        value={value}
        readOnly
        onFocus={(e) => e.currentTarget.select()}
        style={{ flex: 1 }}
        styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
        data-testid={testId}
      />
      <CopyButton value={value}>
        {({ copied, copy }) => (
          <Button variant={copied ? "filled" : "default"} color={copied ? "teal" : undefined} onClick={copy}>
            {copied ? "Copied" : `Copy ${label === label.toUpperCase() ? label : label.toLowerCase()}`}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}

const CopyIcon = () => (
  <svg
    width="16"
    height="16"
    viewBox="0 0 24 24"
    fill="none"
    stroke="currentColor"
    strokeWidth="2"
    aria-hidden="true"
  >
    <rect x="8" y="8" width="12" height="12" rx="2" />
    <path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2" />
  </svg>
);
const CheckIcon = () => (
  <svg
    width="16"
    height="16"
    viewBox="0 0 24 24"
    fill="none"
    stroke="currentColor"
    strokeWidth="2"
    aria-hidden="true"
  >
    <path d="M5 12l5 5L20 7" />
  </svg>
);

/** A small copy button beside a value in a table cell. */
export function SourceCopyIcon({ value, label }: { value: string; label: string }) {
  return (
    <CopyButton value={value}>
      {({ copied, copy }) => (
        <Tooltip label={copied ? "Copied" : label} withArrow>
          <ActionIcon variant="subtle" color={copied ? "teal" : "gray"} onClick={copy} aria-label={label}>
            {copied ? <CheckIcon /> : <CopyIcon />}
          </ActionIcon>
        </Tooltip>
      )}
    </CopyButton>
  );
}

/** A code snippet with a copy button. */
export function SourceSnippet({ code, label }: { code: string; label: string }) {
  return (
    <Stack gap={4}>
      <Group justify="flex-end">
        <CopyButton value={code}>
          {({ copied, copy }) => (
            <Button size="xs" variant="default" onClick={copy} aria-label={label}>
              {copied ? "Copied" : "Copy"}
            </Button>
          )}
        </CopyButton>
      </Group>
      <Code block>{code}</Code>
    </Stack>
  );
}
