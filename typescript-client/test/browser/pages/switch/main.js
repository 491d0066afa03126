// A channel that changes under a mounted component: React's useChannel with
// a changing prop (in StrictMode), Vue's useChannel with a ref and with a
// getter. Each button moves its component to the next channel.
import { createElement as h, StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { computed, createApp, defineComponent, h as vh, ref } from "vue";
import { BrainWsProvider, useChannel } from "@brain/ws-client/react";
import { brainWs, useChannel as useVueChannel } from "@brain/ws-client/vue";
import { testClient } from "../common.js";

const client = testClient();
const show = (id, snapshot) => [
  `${id}: `,
  snapshot.status,
  " ",
  snapshot.events.map((e) => `${e.channel}/${e.data.n}`).join(","),
];

function Feed({ channel }) {
  const snapshot = useChannel(channel);
  return h("p", { id: "react-feed" }, ...show(channel, snapshot));
}

function ReactSwitch() {
  const [n, setN] = useState(0);
  return h("div", null, h("button", { id: "react-next", onClick: () => setN((x) => x + 1) }, "next"), h(Feed, { channel: `alerts:${n}` }));
}

createRoot(document.getElementById("react")).render(h(StrictMode, null, h(BrainWsProvider, { client }, h(ReactSwitch))));

const VueSwitch = defineComponent({
  setup() {
    const n = ref(0);
    const byRef = useVueChannel(computed(() => `news:${n.value}`));
    const byGetter = useVueChannel(() => `sports:${n.value}`);
    return () =>
      vh("div", [
        vh("button", { id: "vue-next", onClick: () => n.value++ }, "next"),
        vh("p", { id: "vue-ref" }, show(`news:${n.value}`, byRef.value)),
        vh("p", { id: "vue-getter" }, show(`sports:${n.value}`, byGetter.value)),
      ]);
  },
});

createApp(VueSwitch).use(brainWs(client)).mount("#vue");
