import { createContext, useContext } from "react";
import type { Field, Issue, Segment } from "../api.ts";

export interface EditorCtx {
  fields: Field[];
  segments: Segment[];
  issues: Issue[];
  selfId?: string;
}

export const EditorContext = createContext<EditorCtx>({ fields: [], segments: [], issues: [] });
export const useEditor = () => useContext(EditorContext);

/** The server's messages about this node itself (not about its children). */
export function useIssuesAt(path: string): Issue[] {
  const { issues } = useEditor();
  return issues.filter((i) => {
    if (i.path === path) return true;
    if (!i.path.startsWith(path)) return false;
    const rest = i.path.slice(path.length);
    return (rest.startsWith(".") || rest.startsWith("[")) && !/^\.(conditions\[|condition\b)/.test(rest);
  });
}
