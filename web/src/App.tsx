import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Navigate, Route, Routes } from "react-router";
import { getKey, setKey } from "./api.ts";
import { Layout } from "./components/Layout.tsx";
import { ContactPage } from "./pages/ContactPage.tsx";
import { ContactsPage } from "./pages/ContactsPage.tsx";
import { DestinationsDetailPage } from "./pages/DestinationsDetailPage.tsx";
import { DestinationsPage } from "./pages/DestinationsPage.tsx";
import { DestinationsRunPage } from "./pages/DestinationsRunPage.tsx";
import { FieldsPage } from "./pages/FieldsPage.tsx";
import { ImportPage } from "./pages/ImportPage.tsx";
import { SchedulesDetailPage } from "./pages/SchedulesDetailPage.tsx";
import { SchedulesPage } from "./pages/SchedulesPage.tsx";
import { SegmentEditorPage } from "./pages/SegmentEditorPage.tsx";
import { SegmentPage } from "./pages/SegmentPage.tsx";
import { SegmentsPage } from "./pages/SegmentsPage.tsx";
import { SignInPage } from "./pages/SignInPage.tsx";
import { SourcesPage } from "./pages/SourcesPage.tsx";
import { SourcesReceiverPage } from "./pages/SourcesReceiverPage.tsx";
import { WebhooksDetailPage } from "./pages/WebhooksDetailPage.tsx";
import { WebhooksPage } from "./pages/WebhooksPage.tsx";

export function App() {
  const [key, setKeyState] = useState<string | null>(getKey());
  const qc = useQueryClient();
  const signIn = (k: string) => {
    setKey(k);
    qc.clear();
    setKeyState(k);
  };
  const signOut = () => {
    setKey(null);
    qc.clear();
    setKeyState(null);
  };
  if (!key) {
    return (
      <Routes>
        <Route path="*" element={<SignInPage onSignIn={signIn} />} />
      </Routes>
    );
  }
  return (
    <Layout onSignOut={signOut}>
      <Routes>
        <Route path="/" element={<Navigate to="/segments" replace />} />
        <Route path="/sign-in" element={<Navigate to="/segments" replace />} />
        <Route path="/segments" element={<SegmentsPage />} />
        <Route path="/segments/new" element={<SegmentEditorPage />} />
        <Route path="/segments/:id/edit" element={<SegmentEditorPage />} />
        <Route path="/segments/:id" element={<SegmentPage />} />
        <Route path="/contacts" element={<ContactsPage />} />
        <Route path="/contacts/:id" element={<ContactPage />} />
        <Route path="/import" element={<ImportPage />} />
        <Route path="/sources" element={<SourcesPage />} />
        <Route path="/sources/receivers/:id" element={<SourcesReceiverPage />} />
        <Route path="/destinations" element={<DestinationsPage />} />
        <Route path="/destinations/:id" element={<DestinationsDetailPage />} />
        <Route path="/destinations/:id/runs/:run" element={<DestinationsRunPage />} />
        <Route path="/schedules" element={<SchedulesPage />} />
        <Route path="/schedules/:id" element={<SchedulesDetailPage />} />
        <Route path="/webhooks" element={<WebhooksPage />} />
        <Route path="/webhooks/:id" element={<WebhooksDetailPage />} />
        <Route path="/fields" element={<FieldsPage />} />
        <Route path="*" element={<Navigate to="/segments" replace />} />
      </Routes>
    </Layout>
  );
}
