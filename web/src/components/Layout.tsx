import { AppShell, Burger, Button, Group, NavLink, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, useLocation } from "react-router";
import { api } from "../api.ts";
import { PageErrorBoundary } from "./PageErrorBoundary.tsx";

const NAV = [
  { to: "/segments", label: "Segments" },
  { to: "/contacts", label: "Contacts" },
  { to: "/fields", label: "Fields" },
  { to: "/import", label: "Import" },
  { to: "/sources", label: "Sources" },
  { to: "/destinations", label: "Destinations" },
  { to: "/schedules", label: "Scheduled exports" },
  { to: "/webhooks", label: "Webhooks" },
];

export function Layout({ children, onSignOut }: { children: ReactNode; onSignOut: () => void }) {
  const ws = useQuery({ queryKey: ["workspace"], queryFn: () => api.workspace() });
  const loc = useLocation();
  // Below the `sm` breakpoint the navigation folds behind a menu button. Choosing a link
  // folds it again, even the current page's link. Not an effect on the location: right
  // after sign-in the router's redirect commits as a transition, late on a busy machine,
  // and would fold a menu the user had just opened.
  const [opened, { toggle, close }] = useDisclosure(false);
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 210, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="lg"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap" miw={0}>
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={opened ? "Close navigation" : "Open navigation"}
              aria-expanded={opened}
              aria-controls="main-navigation"
            />
            <Title order={1} size="h3" c="indigo.8">
              Slice
            </Title>
            <Text c="dimmed" size="sm" truncate data-testid="workspace-name">
              {ws.isLoading ? "…" : ws.isError ? "workspace unavailable" : ws.data?.name}
            </Text>
          </Group>
          <Button variant="subtle" onClick={onSignOut}>
            Sign out
          </Button>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main" id="main-navigation">
        {NAV.map((n) => {
          const active = loc.pathname.startsWith(n.to);
          return (
            <NavLink
              key={n.to}
              component={Link}
              to={n.to}
              label={n.label}
              active={active}
              aria-current={active ? "page" : undefined}
              onClick={close}
            />
          );
        })}
      </AppShell.Navbar>
      <AppShell.Main>
        {/* A new page starts with no error. */}
        <PageErrorBoundary key={loc.pathname}>{children}</PageErrorBoundary>
      </AppShell.Main>
    </AppShell>
  );
}
