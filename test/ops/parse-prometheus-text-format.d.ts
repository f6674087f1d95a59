/** The parser ships no types: what the tests read of its prom2json-shaped answer. */
declare module "parse-prometheus-text-format" {
  export default function parsePrometheusTextFormat(text: string): {
    name: string;
    help: string;
    type: string;
    metrics: {
      labels?: Record<string, string>;
      value?: string;
      count?: string;
      sum?: string;
      buckets?: Record<string, string>;
    }[];
  }[];
}
