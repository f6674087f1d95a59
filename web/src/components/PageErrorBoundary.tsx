import { Alert, Button, Code, Stack, Text } from "@mantine/core";
import { Component, type ErrorInfo, type ReactNode } from "react";

interface State {
  error: Error | null;
}

/**
 * A page that throws while rendering shows what went wrong where the page would be,
 * and the navigation stays usable, instead of the whole app going blank.
 */
export class PageErrorBoundary extends Component<{ children: ReactNode }, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(error, info.componentStack);
  }

  render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <Alert color="red" role="alert" title="This page could not be shown" maw={720}>
        <Stack gap="sm">
          <Text size="sm">
            Something on it failed to display. Other pages still work: pick one in the navigation, or try this
            one again.
          </Text>
          <Code block>{error.message}</Code>
          <Button variant="default" w="fit-content" onClick={() => this.setState({ error: null })}>
            Try again
          </Button>
        </Stack>
      </Alert>
    );
  }
}
