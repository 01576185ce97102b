// node-oidc-provider ships no type declarations; the tests use a small, loosely typed part of it.
declare module 'oidc-provider' {
  // biome-ignore lint/suspicious/noExplicitAny: untyped third-party module
  const Provider: any;
  export default Provider;
}
