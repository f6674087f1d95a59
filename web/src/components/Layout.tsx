import { AppShell, Button, Group, NavLink, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, useLocation } from "react-router";
import { api } from "../api.ts";

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
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 200, breakpoint: "xs" }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Title order={3}>Slice</Title>
            <Text c="dimmed" data-testid="workspace-name">
              {ws.isLoading ? "…" : ws.isError ? "workspace unavailable" : ws.data?.name}
            </Text>
          </Group>
          <Button variant="subtle" onClick={onSignOut}>
            Sign out
          </Button>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        {NAV.map((n) => (
          <NavLink
            key={n.to}
            component={Link}
            to={n.to}
            label={n.label}
            active={loc.pathname.startsWith(n.to)}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
