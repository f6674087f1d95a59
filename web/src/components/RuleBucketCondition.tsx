import { Group, NumberInput, Select, Stack, Text, TextInput } from "@mantine/core";
import { useState } from "react";
import type { Rule } from "../api.ts";
import { OPS, valueKind } from "../rules.ts";
import { EMPTY_NUMBER } from "./PolishValues.ts";

type BucketRule = Extract<Rule, { type: "bucket" }>;

/**
 * Buckets run from 0 to 100 in hundredths (docs/rules.md, "Bucket conditions"). An
 * emptied input gives null, shown as an error and not saved, rather than a 0.
 */
function BucketNumber({
  label,
  value,
  onChange,
}: {
  label: string;
  value: number | null;
  onChange: (v: number | null) => void;
}) {
  // What was typed while it is not yet a number ("", "12."), so the input keeps it.
  const [draft, setDraft] = useState("");
  const ok = typeof value === "number" && Number.isFinite(value);
  return (
    <NumberInput
      aria-label={label}
      w={100}
      min={0}
      max={100}
      decimalScale={2}
      clampBehavior="strict"
      suffix=" %"
      value={ok ? value : draft}
      error={ok ? undefined : EMPTY_NUMBER}
      onChange={(v) => {
        if (typeof v === "number") onChange(v);
        else {
          setDraft(v);
          onChange(null);
        }
      }}
    />
  );
}

const asBucket = (v: unknown): number | null => (typeof v === "number" ? v : null);

/** A random but stable share of contacts: the contact's bucket for a seed, compared with a percentage. */
export function RuleBucketCondition({ rule, onChange }: { rule: BucketRule; onChange: (r: Rule) => void }) {
  const range = valueKind("bucket", rule.op) === "range";
  const [lo, hi] = Array.isArray(rule.value) ? (rule.value as unknown[]).map(asBucket) : [0, 0];
  const single = rule.value === null ? null : typeof rule.value === "number" ? rule.value : 0;
  return (
    <Stack gap={4}>
      <Group gap="xs" wrap="wrap">
        <Text size="sm">bucket of seed</Text>
        <TextInput
          aria-label="Bucket seed"
          w={160}
          value={rule.seed}
          onChange={(e) => onChange({ ...rule, seed: e.currentTarget.value })}
        />
        <Select
          aria-label="Bucket operator"
          w={110}
          allowDeselect={false}
          data={OPS.bucket.map(([value, label]) => ({ value, label }))}
          value={rule.op}
          onChange={(op) => {
            if (!op) return;
            const toRange = valueKind("bucket", op) === "range";
            if (toRange === range) onChange({ ...rule, op });
            else onChange({ ...rule, op, value: toRange ? [0, single || 10] : (lo ?? null) });
          }}
        />
        {range ? (
          <Group gap={4} wrap="nowrap">
            <BucketNumber
              label="Bucket from"
              value={lo}
              onChange={(v) => onChange({ ...rule, value: [v, hi] })}
            />
            <span>and</span>
            <BucketNumber
              label="Bucket to"
              value={hi}
              onChange={(v) => onChange({ ...rule, value: [lo, v] })}
            />
          </Group>
        ) : (
          <BucketNumber
            label="Bucket value"
            value={single}
            onChange={(v) => onChange({ ...rule, value: v })}
          />
        )}
      </Group>
      <Text size="xs" c="dimmed">
        A random, stable number from 0 to 100 per contact and seed, for holdouts and A/B splits: &lt; 10 %
        keeps one contact in ten; the same seed with ≥ 10 % gives everyone else.
      </Text>
    </Stack>
  );
}
