/**
 * The app's visual system: one palette, one type scale, one spacing scale, links that
 * look like the app's and not the browser's. Every page uses Mantine's tokens
 * (`gap="md"`, `c="dimmed"`, `order={2}`) so the values live here only.
 */
import {
  Anchor,
  AppShell,
  Badge,
  type CSSVariablesResolver,
  createTheme,
  Paper,
  Table,
  Title,
} from "@mantine/core";

export const theme = createTheme({
  primaryColor: "indigo",
  // Shade 7 keeps white on filled buttons and indigo text on white above 4.5:1 (WCAG AA).
  primaryShade: { light: 7, dark: 5 },
  defaultRadius: "md",
  fontFamily:
    'Inter, ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  fontFamilyMonospace: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
  headings: {
    fontWeight: "650",
    sizes: {
      h1: { fontSize: "1.75rem", lineHeight: "1.3" },
      h2: { fontSize: "1.5rem", lineHeight: "1.3" },
      h3: { fontSize: "1.2rem", lineHeight: "1.35" },
      h4: { fontSize: "1.05rem", lineHeight: "1.4" },
      h5: { fontSize: "0.95rem", lineHeight: "1.4" },
    },
  },
  components: {
    Anchor: Anchor.extend({ defaultProps: { underline: "hover" } }),
    AppShell: AppShell.extend({ defaultProps: { padding: "lg" } }),
    Badge: Badge.extend({ defaultProps: { radius: "sm" } }),
    Paper: Paper.extend({ defaultProps: { radius: "md" } }),
    Table: Table.extend({ defaultProps: { verticalSpacing: "xs", highlightOnHover: true } }),
    Title: Title.extend({ defaultProps: { textWrap: "balance" } }),
  },
});

type Rgb = [number, number, number];

const rgbOf = (hex: string): Rgb => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as Rgb;
const hexOf = (c: Rgb): string =>
  `#${c
    .map((v) =>
      Math.round(Math.max(0, Math.min(255, v)))
        .toString(16)
        .padStart(2, "0"),
    )
    .join("")}`;

function luminance([r, g, b]: Rgb): number {
  const lin = (v: number) => {
    const x = v / 255;
    return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

function contrast(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** `c` at `alpha` over white: what a light variant's tinted background looks like. */
const overWhite = (c: Rgb, alpha: number): Rgb => c.map((v) => v * alpha + 255 * (1 - alpha)) as Rgb;

/**
 * The lightest of the palette's shades 6–9 that reads at `ratio` against `background`,
 * darkening shade 9 further when none does (Mantine's green, orange, yellow, lime).
 */
function readable(shades: readonly string[], background: Rgb, ratio: number): string {
  for (const i of [6, 7, 8, 9]) {
    const shade = shades[i];
    if (shade?.startsWith("#") && contrast(rgbOf(shade), background) >= ratio) return shade;
  }
  let c = rgbOf(shades[9] ?? "#000000");
  while (contrast(c, background) < ratio) c = c.map((v) => v * 0.92) as Rgb;
  return hexOf(c);
}

/**
 * Text and fills that meet WCAG AA (4.5:1) in every palette colour: Mantine's defaults
 * put green, orange, red and blue text at 2.5–4.3:1 on their own tinted backgrounds
 * (badges, light buttons, the active nav link) and white text on green at 2.4:1. The
 * ratio kept is a little above 4.5 so a striped or hovered row still passes. Its dimmed
 * grey (gray.6) is 3.3:1 on white: secondary text uses gray.7, still visibly quieter.
 */
export const cssVariablesResolver: CSSVariablesResolver = (t) => {
  const light: Record<string, string> = {
    "--mantine-color-dimmed": "var(--mantine-color-gray-7)",
    "--mantine-color-placeholder": "var(--mantine-color-gray-6)",
  };
  for (const [name, shades] of Object.entries(t.colors)) {
    if (name === "dark" || !shades?.[7]?.startsWith("#")) continue;
    const tinted = overWhite(rgbOf(shades[7]), 0.14);
    const text = readable(shades, tinted, 4.8);
    const fill = readable(shades, [255, 255, 255], 4.8);
    light[`--mantine-color-${name}-light-color`] = text;
    light[`--mantine-color-${name}-text`] = text;
    light[`--mantine-color-${name}-outline`] = text;
    light[`--mantine-color-${name}-filled`] = fill;
    light[`--mantine-color-${name}-filled-hover`] = hexOf(rgbOf(fill).map((v) => v * 0.88) as Rgb);
  }
  return { variables: {}, light, dark: {} };
};
