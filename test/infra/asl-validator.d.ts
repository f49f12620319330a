declare module 'asl-validator' {
  interface ValidationOptions {
    checkPaths: boolean;
    checkArn: boolean;
  }
  interface ValidationResult {
    isValid: boolean;
    errors: { message?: string }[];
    errorsText: (separator?: string) => string;
  }
  /** Validates an ASL definition. Note: it adds `QueryLanguage` to every state of the object it is given. */
  function validator(definition: object, options?: ValidationOptions): ValidationResult;
  export = validator;
}
