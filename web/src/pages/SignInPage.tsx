import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { ApiError, api } from "../api.ts";

export function SignInPage({ onSignIn }: { onSignIn: (key: string) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.workspace(key.trim());
      onSignIn(key.trim());
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "Unknown or revoked API key" : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center mih="100vh" p="md" bg="gray.0">
      <Paper withBorder shadow="sm" p="xl" w="100%" maw={420}>
        <form onSubmit={submit}>
          <Stack>
            <Title order={1} size="h2">
              Sign in to Slice
            </Title>
            <Text c="dimmed" size="sm">
              Paste an API key of your workspace.
            </Text>
            <PasswordInput
              label="API key"
              required
              value={key}
              onChange={(e) => setKey(e.currentTarget.value)}
              autoFocus
            />
            {error && (
              <Alert color="red" role="alert">
                {error}
              </Alert>
            )}
            <Button type="submit" loading={busy} disabled={key.trim() === ""}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
