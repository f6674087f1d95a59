import { Text } from "@mantine/core";
import type { Issue } from "../api.ts";

export function IssueList({ issues }: { issues: Issue[] }) {
  if (issues.length === 0) return null;
  return (
    <div role="alert" data-testid="rule-issue">
      {issues.map((i) => (
        <Text key={`${i.path}:${i.message}`} c="red" size="sm">
          {i.message}
        </Text>
      ))}
    </div>
  );
}
