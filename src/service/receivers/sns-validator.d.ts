// Types for the AWS-published `sns-validator` (awslabs/aws-js-sns-message-validator), which ships none.
declare module "sns-validator" {
  type ValidationCallback = (error: Error | null, message?: Record<string, unknown>) => void;
  class MessageValidator {
    constructor(hostPattern?: RegExp, encoding?: string);
    validate(message: string | Record<string, unknown>, callback: ValidationCallback): void;
  }
  export = MessageValidator;
}
