import { Text } from "@mantine/core";
import type { Issue } from "../api.ts";
import { unknownFieldKey } from "../fields-api.ts";
import { DeclareFieldLink } from "./DeclareField.tsx";

export function IssueList({ issues }: { issues: Issue[] }) {
  if (issues.length === 0) return null;
  return (
    <div role="alert" data-testid="rule-issue">
      {issues.map((i) => {
        const missing = unknownFieldKey(i.message);
        return (
          <div key={`${i.path}:${i.message}`}>
            <Text c="red" size="sm">
              {i.message}
            </Text>
            {missing && <DeclareFieldLink fieldKey={missing} />}
          </div>
        );
      })}
    </div>
  );
}
