import { Code, Stack, Text, Textarea } from "@mantine/core";
import type { ApiError } from "../api.ts";
import { textErrorAt } from "../segments-api.ts";

/** The problem of a rule text the server answered, without the path it is said under. */
function problemOf(error: ApiError): string {
  return error.message.replace(/^rule_text: /, "");
}

/**
 * A rule in its text form (docs/rules.md, "Text form"). The server reads it: a syntax
 * error comes back with its line, column and the line with a caret under the place,
 * shown under the editor; a rule that reads but is not valid, with the server's message.
 */
export function RuleTextEditor({
  value,
  onChange,
  error,
}: {
  value: string;
  onChange: (text: string) => void;
  error: ApiError | null;
}) {
  const at = error ? textErrorAt(error.details as Record<string, unknown>) : null;
  return (
    <Stack gap={4}>
      <Textarea
        label="Rule text"
        description="The rule in the text form; the preview follows as you type"
        autosize
        minRows={4}
        maxRows={24}
        spellCheck={false}
        styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
        value={value}
        onChange={(e) => onChange(e.currentTarget.value)}
        error={error ? true : undefined}
        aria-describedby={error ? "rule-text-error" : undefined}
        data-testid="rule-text"
      />
      {error && (
        <Stack gap={2} id="rule-text-error" role="alert" data-testid="rule-text-error">
          <Text size="sm" c="red">
            {at
              ? `Line ${at.line}, column ${at.column}: ${problemOf(error).replace(/^line \d+, column \d+: /, "")}`
              : problemOf(error)}
          </Text>
          {at && (
            <Code block data-testid="rule-text-caret">
              {at.caret}
            </Code>
          )}
        </Stack>
      )}
    </Stack>
  );
}
