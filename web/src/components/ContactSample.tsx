import { Anchor, Table, Text } from "@mantine/core";
import type { ReactNode } from "react";
import { Link } from "react-router";
import type { Contact } from "../api.ts";

/** Contacts as rows linking to their pages; `empty` (a line, or an empty state) when there are none. */
export function ContactSample({
  contacts,
  empty = "No contacts",
}: {
  contacts: Contact[];
  empty?: ReactNode;
}) {
  if (contacts.length === 0)
    return typeof empty === "string" ? (
      <Text c="dimmed" size="sm">
        {empty}
      </Text>
    ) : (
      empty
    );
  return (
    <Table.ScrollContainer minWidth={360}>
      <Table striped highlightOnHover>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Email</Table.Th>
            <Table.Th>Name</Table.Th>
            <Table.Th>Country</Table.Th>
            <Table.Th>Status</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {contacts.map((c) => (
            <Table.Tr key={c.id}>
              <Table.Td>
                <Anchor component={Link} to={`/contacts/${c.id}`} size="sm">
                  {c.email ?? c.external_id ?? c.id}
                </Anchor>
              </Table.Td>
              <Table.Td>{[c.first_name, c.last_name].filter(Boolean).join(" ")}</Table.Td>
              <Table.Td>{c.country}</Table.Td>
              <Table.Td>{c.status}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
