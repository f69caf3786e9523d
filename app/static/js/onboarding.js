// Onboarding and admin forms answer 409/413/422 WITH the form and its field errors: swap those too
// (htmx 2 leaves 4xx responses unswapped by default). Loaded only by these pages.
htmx.config.responseHandling = [
  { code: "204", swap: false },
  { code: "[23]..", swap: true },
  { code: "(409|413|422)", swap: true, error: false },
  { code: "[45]..", swap: false, error: true },
];
