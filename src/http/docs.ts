/**
 * The OpenAPI document and a page rendering it (Swagger UI, served from the
 * @fastify/swagger-ui package: no CDN, works offline).
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";

export function registerDocs(app: FastifyInstance, document: () => Record<string, unknown>): void {
  let cached: Record<string, unknown> | null = null;
  const doc = () => {
    cached ??= document();
    return cached;
  };
  app.get("/v1/openapi.json", async () => doc());
  void app.register(async (scope) => {
    await scope.register(swagger, {
      mode: "static",
      specification: { document: doc() as never },
    });
    await scope.register(swaggerUi, { routePrefix: "/docs" });
  });
}
