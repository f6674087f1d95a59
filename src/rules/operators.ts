/** The operator table lives in the contract (src/contract/operators.ts), which the web app imports too. */
export * from "../contract/operators.ts";
